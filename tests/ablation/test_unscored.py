"""A held-out set without text targets has a token count of 0 and no loss, never a NaN."""

from __future__ import annotations

from polymix.ablation.runner import final_eval_losses
from polymix.trainer.evaluation import eval_record


def test_a_held_out_set_without_text_targets_logs_no_loss_and_is_not_scored() -> None:
    sums = {"web": (6.0, 3.0), "images": (0.0, 0.0)}
    record = eval_record(sums, {"web": "text", "images": "image"})
    assert record == {
        "eval/web/loss": 2.0,
        "eval/web/tokens": 3.0,
        "eval/text/loss": 2.0,
        "eval/text/tokens": 3.0,
        "eval/images/tokens": 0.0,
        "eval/image/tokens": 0.0,
    }
    assert final_eval_losses([{"step": 4, **record}], ["images", "web"]) == {"web": 2.0}
