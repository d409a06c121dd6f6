"""``fqe-onnx serve``: the scorer over HTTP (the ``serve`` extra: Starlette, uvicorn, python-multipart,
prometheus-client).

``batcher``: one bounded queue of images for all requests, drained in batches by worker threads;
``service``: the limits and the state the handlers share;
``payload``: request bodies to (name, bytes) uploads, or a refusal; ``rows``: records to response
rows and the OpenAPI document; ``metrics``: the Prometheus metrics; ``app``: the Starlette app;
``command``: the click command and the uvicorn server that drains on SIGTERM.
"""
