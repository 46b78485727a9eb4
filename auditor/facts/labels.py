"""Label vocabulary for the data-flow facts, and the classifiers of strings and calls that create labels.

A value's labels say where it came from: validation or training shards, a loss, a normalized
distribution, model output, the realized target token, an optimizer, a freshly created trainable
tensor. Labels flow through assignments, containers, attributes, calls and returns (flow.py).
"""
from __future__ import annotations

import re

VAL = "VAL"  # validation shards, their paths, tokens and anything computed from them
TRAIN = "TRAIN"  # training shards likewise
VALN = "VALN"  # a size or count computed from validation data (len, numel, shape): not the tokens
LOSS = "LOSS"  # a loss / log-probability / NLL value
NORM = "NORM"  # a normalized distribution (softmax / log_softmax output)
MODEL = "MODEL"  # output of a model forward
TGT = "TGT"  # derived from the realized target token at a scored position
OPT = "OPT"  # an optimizer object
FRESH = "FRESH"  # a tensor created with requires_grad in eval code (SLOT-style delta)
LOCAL = "LOCAL"  # an object created locally (deepcopy, a new module): its updates do not persist
GRAD = "GRAD"  # a `.grad` value
BYTES = "BYTES"  # bytes of a token (piece text, UTF-8 encodings)
PARAMS = "PARAMS"  # a model's existing parameters (`.parameters()`), as opposed to fresh tensors
PARAM = "P:"  # prefix: symbolic label of a function parameter, substituted at call sites
LOOP = "IT:"  # prefix: derived from the iteration variable of a loop
TREAD = "TREAD:"  # prefix: value read from a non-model table with a key derived from the target
FILE = "FILE:"  # prefix: data read from a file named by a literal (basename)
TREAD_PARAM = "TRP:"  # prefix: a table read keyed by a parameter ("TRP:y|file:line"); a TREAD if the argument is the target
TBL = "TBL:"  # prefix: probability mass read from a count table written with validation data
NORMED = "NORMED:"  # prefix: that table's values went through a full-vocabulary normalization
TBLIDX = "TBLIDX"  # a table-derived token id used only to select from the model's distribution (a hint)
FUNC = "FN:"  # prefix: a nested function used as a value ("FN:<function key>"), calling the value calls it
CAPTURE = "CAP:"  # prefix: "CAP:<function key>|<name>|<label>": a label of a name that function value closes over

DATA = (VAL, TRAIN)

_VAL_PATH = re.compile(r"fineweb_val|(^|[/_*])val(idation)?_[\w*]*\.bin|val_\*|_val_", re.I)
_TRAIN_PATH = re.compile(r"fineweb_train|(^|[/_*])train_[\w*]*\.bin|train_\*", re.I)
_FILE_LITERAL = re.compile(r"^[\w./-]+\.(bin|npy|npz|pt|pth|pkl|json|txt|blob|dat|zst|xz|gz|lzma|br)$", re.I)


def string_labels(value: str) -> frozenset[str]:
    """Labels of a string literal: shard patterns, or a data file named by a literal."""
    if len(value) > 300:
        return frozenset()
    if _VAL_PATH.search(value):
        return frozenset({VAL})
    if _TRAIN_PATH.search(value):
        return frozenset({TRAIN})
    if _FILE_LITERAL.match(value):
        return frozenset({FILE + value.rsplit("/", 1)[-1]})
    return frozenset()


# Call classification by the last part of a qualified name or a method name.
LOSS_FUNCS = {"cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "log_softmax",
              "log", "log2", "log10", "log1p", "logsumexp", "xlogy"}
NORM_FUNCS = {"softmax", "log_softmax"}
TENSOR_CREATORS = {"zeros", "ones", "empty", "randn", "rand", "full", "zeros_like", "ones_like", "empty_like", "randn_like",
                   "full_like", "tensor", "normal", "arange"}
FILE_READERS = {"fromfile", "memmap", "load", "open", "glob", "iglob", "from_file", "read_bytes", "read_text", "loadtxt",
                "load_file", "safe_open", "frombuffer"}
SAMPLERS = {"multinomial", "argmax", "topk", "sample", "categorical"}
NETWORK = {
    "requests.get", "requests.post", "requests.put", "requests.request", "requests.Session", "urllib.request.urlopen",
    "urllib.request.urlretrieve", "urllib.request.Request", "urlopen", "urlretrieve", "http.client.HTTPConnection",
    "http.client.HTTPSConnection", "socket.create_connection", "huggingface_hub.hf_hub_download", "hf_hub_download",
    "huggingface_hub.snapshot_download", "snapshot_download", "huggingface_hub.HfApi", "datasets.load_dataset",
    "load_dataset", "torch.hub.load", "torch.hub.load_state_dict_from_url", "torch.hub.download_url_to_file",
    "wget.download", "httpx.get", "httpx.post", "httpx.Client", "aiohttp.ClientSession", "ftplib.FTP",
}
NETWORK_COMMANDS = re.compile(r"\b(curl|wget|git\s+clone|aria2c|scp|rsync)\b")
ACCUMULATING_METHODS = {"append", "extend", "add_", "insert", "update", "index_add_", "scatter_add_", "put_", "index_put_"}
TABLE_METHODS = {"index_add_", "scatter_add_", "put_", "index_put_", "add_at", "bincount"}


SIZE = "SZ:"  # prefix: the size of a parameter's value (`len(p)`), resolved at call sites


def is_param(label: str) -> bool:
    return label.startswith(PARAM)


def size_of(labels: frozenset[str]) -> frozenset[str]:
    """Labels of a size/count computed from a value: validation tokens become VALN."""
    out = set()
    for label in labels:
        if label == VAL:
            out.add(VALN)
        elif is_param(label):
            out.add(SIZE + label)
        elif label not in (TRAIN, BYTES):
            out.add(label)
    return frozenset(out)


def substitute(labels: frozenset[str], mapping: dict[str, frozenset[str]]) -> frozenset[str]:
    """Replace parameter labels by the labels of the arguments bound to them (unbound ones vanish)."""
    if not any(is_param(label) or label.startswith((SIZE, TREAD_PARAM, CAPTURE)) for label in labels):
        return labels
    out = {label for label in labels if not is_param(label) and not label.startswith((SIZE, TREAD_PARAM, CAPTURE))}
    for label in labels:
        if is_param(label):
            out |= mapping.get(label[len(PARAM):], frozenset())
        elif label.startswith(SIZE):
            out |= size_of(mapping.get(label[len(SIZE) + len(PARAM):], frozenset()))
        elif label.startswith(TREAD_PARAM):
            param, _, site = label[len(TREAD_PARAM):].partition("|")
            bound = mapping.get(param, frozenset())
            if TGT in bound:
                out.add(TREAD + site)
            out |= {f"{TREAD_PARAM}{b[len(PARAM):]}|{site}" for b in bound if is_param(b)}
        elif label.startswith(CAPTURE):
            key, name, inner = split_capture(label)
            out |= capture(key, name, substitute(frozenset({inner}), mapping))
    return frozenset(out)


def capture(key: str, name: str, labels: frozenset[str]) -> frozenset[str]:
    """The labels of `name`, closed over by the function value `key`, carried along with that value.

    One level only: a captured value that is itself a function value loses what it captured (so labels
    stay finite however closures are passed around)."""
    return frozenset(f"{CAPTURE}{key}|{name}|{x}" for x in labels if not x.startswith((FUNC, CAPTURE)))


def split_capture(label: str) -> tuple[str, str, str]:
    """"CAP:<key>|<name>|<label>" -> (key, name, label); keys and names hold no "|", the label may."""
    key, _, rest = label[len(CAPTURE):].partition("|")
    name, _, inner = rest.partition("|")
    return key, name, inner


def concrete(labels: frozenset[str]) -> frozenset[str]:
    """Labels that mean the same in every function (no parameter, loop or target-position labels)."""
    return frozenset(label for label in labels if _is_concrete(label))


def _is_concrete(label: str) -> bool:
    if label.startswith(CAPTURE):
        return _is_concrete(split_capture(label)[2])
    return not is_param(label) and not label.startswith((LOOP, SIZE)) and label not in (TGT, LOCAL)


def table_mass(labels: frozenset[str]) -> set[str]:
    """Tables whose values reach this value as probability mass without being normalized."""
    tables = {x[len(TBL):] for x in labels if x.startswith(TBL)}
    return tables - {x[len(NORMED):] for x in labels if x.startswith(NORMED)}
