# Worker image for Dataflow: Beam's Python 3.11 SDK image plus polymix and its pinned deps.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/polymix:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/polymix:0.1.0
#   polymix run my.yaml --output gs://BUCKET/out --runner DataflowRunner --project PROJECT \
#     --region REGION --temp_location gs://BUCKET/tmp \
#     --sdk_container_image REGION-docker.pkg.dev/PROJECT/REPO/polymix:0.1.0 --sdk_location container
FROM apache/beam_python3.11_sdk:2.77.0
WORKDIR /opt/polymix
COPY pyproject.toml setup.py README.md ./
COPY polymix ./polymix
RUN pip install --no-cache-dir '.[dataflow]' \
 && python -c "import polymix.pipelines, polymix.transforms"
