"""Web archives: WARC/WET records to documents, HTML to main text, URLs to domains and verdicts.

Nothing here imports Beam: the reader yields the same `Example`/`Rejection` values as every
other reader, so `polymix tag` and the pipeline read a web archive with the same code.
"""
