"""HTTP translation server speaking LibreTranslate's API (``python -m nmt.serve``).

``settings`` holds the validated limits, ``requests`` turns a request's fields into a checked
``TranslateRequest``, ``batcher`` is the one worker thread that owns the translators and
translates queued requests together, ``metrics`` writes Prometheus text, and ``app`` wires them
into a FastAPI application. Nothing here imports TensorFlow; ``nmt.serve`` loads the models.
"""
