"""The quartet web app (FastAPI): ``create_app`` in app.py, ``quartet serve`` in cli.py."""
