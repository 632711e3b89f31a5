"""File writers for the SAE vectors: safetensors (via families/hf_common's encoder), SAELens
cfg.json, expected.json, and deterministic .npz files written by numpy itself."""
import io
import json
import os
import struct
import sys
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "families")))
import hf_common  # noqa: E402  (safetensors encode/decode, bf16, quantize)

quantize = hf_common.quantize
read_safetensors = hf_common.read_safetensors


def safetensors_bytes(tensors, metadata=None):
    """dict name -> (array, dtype) -> bytes. Entries sorted by name, packed contiguously; the
    header is compact JSON padded with spaces to a multiple of 8. With metadata None there is
    NO __metadata__ entry, as safetensors.torch.save_file(state_dict, path) writes when SAELens
    saves sae_weights.safetensors / sparsity.safetensors (sae.py SAE.save_model)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        arr, dt = tensors[name]
        data = hf_common.encode(arr, dt)
        header[name] = {"dtype": dt, "shape": [int(s) for s in np.shape(arr)],
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)


def write_safetensors(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(safetensors_bytes(tensors, metadata))


def write_cfg(path, cfg):
    """SAELens writes cfg.json with json.dump(config, f): one line, default separators
    (', ', ': '), insertion order, no trailing newline."""
    with open(path, "w") as f:
        f.write(json.dumps(cfg))


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2) + "\n")


class _FixedClock:
    """Stand-in for the time module inside zipfile while numpy writes an .npz, so the zip
    entries' timestamps (time.localtime(time.time()) in ZipFile.open) are fixed and the files
    come out byte-identical on every run. 2024-07-31 00:00:00, the Gemma Scope release."""
    T = (2024, 7, 31, 0, 0, 0, 2, 213, 0)

    def time(self):
        return 0.0

    def localtime(self, *a):
        return time.struct_time(self.T)


def write_npz(path, arrays, compressed):
    """numpy's own np.savez / np.savez_compressed (zip of .npy files, force_zip64 entries,
    ZIP_STORED or ZIP_DEFLATED), with the zip timestamps pinned. arrays: dict name -> array,
    written in the dict's order."""
    saved = zipfile.time
    zipfile.time = _FixedClock()
    try:
        buf = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    finally:
        zipfile.time = saved
    with open(path, "wb") as f:
        f.write(buf.getvalue())
