#!/usr/bin/python3
"""Installs a keystroke embedder trained by keystroke_learned.py into the shipped models.

  /usr/bin/python3 scripts/bio/install_keystroke_models.py --from /tmp/ksmodel --models models

Writes models/keystroke-embed/{keystroke_embed.onnx,manifest.json} and
models/keystroke-fusion/{fusion.json,manifest.json} (sha256 of each file, the held-out metrics,
what it was trained on), and test/fixtures/models/keystroke-embed-reference.json (two synthetic
chunks and the embedding PyTorch gave them, which ONNX Runtime must reproduce).
"""
import argparse
import hashlib
import json
import os
import shutil

ap = argparse.ArgumentParser()
ap.add_argument("--from", dest="src", required=True)
ap.add_argument("--models", default="models")
ap.add_argument("--fixtures", default="test/fixtures/models")
ap.add_argument("--version", default="keystroke-embed-v1")
# The classical score the fusion's fusedWeight was fit on: aalto_eval --dump writes fused_W.tsv
# with the compiled fused-v1 weights (models/keystroke-classical ships the same); the daemon
# combines the embedding only under that version.
ap.add_argument("--classical-version", default="keystroke-fused-v1")
args = ap.parse_args()

sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
ev = json.load(open(os.path.join(args.src, "eval.json")))
metrics = {}
for W, e in ev.items():
    for name, key in (("fused z", "fused"), ("fused z + embedding cosine", "combined"), ("embedding cosine", "embedding")):
        r = e["results"][name]
        metrics[f"w{W}_{key}_user_eer"] = round(r["user_eer"], 5)
        metrics[f"w{W}_{key}_pooled_eer"] = round(r["pooled_eer"], 5)
training = {
    "data": "Aalto 136M keystrokes, dev subset (../shared/data/aalto_dev.tar.xz)",
    "typists": "three quarters of the FIT half (aalto_eval's split); the fusion is fit on the other quarter; metrics on the TEST half",
    "script": "scripts/bio/keystroke_learned.py",
    "inputs": "per keystroke: hold ms, press-press ms, release-press ms, has hold, has digraph, backspace",
}
emb_dir = os.path.join(args.models, "keystroke-embed")
fus_dir = os.path.join(args.models, "keystroke-fusion")
os.makedirs(emb_dir, exist_ok=True)
os.makedirs(fus_dir, exist_ok=True)
shutil.copyfile(os.path.join(args.src, "keystroke_embed.onnx"), os.path.join(emb_dir, "keystroke_embed.onnx"))
emb_sha = sha(os.path.join(emb_dir, "keystroke_embed.onnx"))
json.dump({"name": "keystroke-embed", "version": args.version, "kind": "onnx", "file": "keystroke_embed.onnx",
           "sha256": emb_sha, "featureSchemaVersion": 1, "metrics": metrics, "training": training},
          open(os.path.join(emb_dir, "manifest.json"), "w"), indent=1)
fusion = json.load(open(os.path.join(args.src, "fusion.json")))
assert fusion["embedderSha256"] == emb_sha, "fusion.json was fit for another embedder"
fusion["version"] = args.version
fusion["classicalVersion"] = args.classical_version
with open(os.path.join(fus_dir, "fusion.json"), "w") as f:
    json.dump(fusion, f, indent=1)
    f.write("\n")
json.dump({"name": "keystroke-fusion", "version": args.version, "kind": "keystroke-fusion", "file": "fusion.json",
           "sha256": sha(os.path.join(fus_dir, "fusion.json")), "featureSchemaVersion": 1, "metrics": metrics,
           "training": training}, open(os.path.join(fus_dir, "manifest.json"), "w"), indent=1)
os.makedirs(args.fixtures, exist_ok=True)
ref = json.load(open(os.path.join(args.src, "reference.json")))
ref["modelSha256"] = emb_sha
json.dump(ref, open(os.path.join(args.fixtures, "keystroke-embed-reference.json"), "w"))
print(f"installed {args.version}: embedder {emb_sha}")
