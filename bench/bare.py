"""The floor: a bare Flask endpoint served the same way as Mayak."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
