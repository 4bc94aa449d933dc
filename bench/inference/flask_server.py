"""The peer users would write first: Flask serving a TorchScript model over the KServe v2 REST infer
path, run under Debian's gunicorn with 2 worker processes (bench/inference/run.sh):

  FLASK_MODELS=mlp=/path/to/model.pt gunicorn -w 2 -k gthread --threads 4 \
      -b 127.0.0.1:18610 --chdir bench/inference flask_server:app

FLASK_MODELS is a comma-separated list of name=path. Each gunicorn worker loads every model with
torch.jit.load and runs it with TORCH_THREADS intra-op threads (default 1: two workers on a
two-core machine, so the processes do not fight over cores). The gthread worker class is used
because gunicorn's default sync worker closes the connection after every response, and the
benchmark's load generator (like any production client) keeps connections alive.

Routes: GET /v2/health/ready, GET /v2/models/<name>/ready, POST /v2/models/<name>/infer with
{"inputs": [{"name", "datatype": "FP32", "shape", "data": [flat or nested]}]}; replies with
{"model_name", "outputs": [{"name": "output", "datatype": "FP32", "shape", "data": [flat]}]}.
"""

import os

import torch
from flask import Flask, jsonify, request

TORCH_THREADS = int(os.environ.get("TORCH_THREADS", "1"))
torch.set_num_threads(TORCH_THREADS)
torch.set_num_interop_threads(1)


def load_models(spec):
    models = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, path = item.partition("=")
        m = torch.jit.load(path, map_location="cpu")
        m.eval()
        models[name] = m
    return models


MODELS = load_models(os.environ.get("FLASK_MODELS", ""))
app = Flask(__name__)


def error(status, message):
    resp = jsonify({"error": message})
    resp.status_code = status
    return resp


@app.get("/v2/health/ready")
def server_ready():
    return jsonify({"ready": True})


@app.get("/v2/models/<name>/ready")
def model_ready(name):
    if name not in MODELS:
        return error(404, f"unknown model {name}")
    return jsonify({"ready": True})


@app.post("/v2/models/<name>/infer")
def infer(name):
    model = MODELS.get(name)
    if model is None:
        return error(404, f"unknown model {name}")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("inputs"):
        return error(400, "body must be a KServe v2 request with inputs")
    inp = body["inputs"][0]
    if inp.get("datatype") != "FP32":
        return error(400, "only FP32 inputs")
    try:
        x = torch.tensor(inp["data"], dtype=torch.float32).reshape(inp["shape"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        return error(400, f"bad input tensor: {e}")
    with torch.inference_mode():
        y = model(x)
    return jsonify({
        "model_name": name,
        "id": body.get("id", ""),
        "outputs": [{"name": "output", "datatype": "FP32", "shape": list(y.shape),
                     "data": y.flatten().tolist()}],
    })
