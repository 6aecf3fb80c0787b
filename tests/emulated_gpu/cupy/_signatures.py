"""CuPy 14.2's signatures (api.json, written by ../dump_cupy_api.py from the real wheel): a call
with a keyword or more positional arguments than CuPy takes raises TypeError here as it would
there."""

import json
import os

API = json.load(open(os.path.join(os.path.dirname(__file__), "api.json")))

def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


_parsed = {}


def parse_sig(sig):
    if sig in _parsed:
        return _parsed[sig]
    if sig is None:
        return None
    inner = sig.strip()[1:].rsplit(")", 1)[0]
    names, npos, varargs, varkw, kwonly = [], 0, False, False, False
    for part in _split_top(inner):
        if part == "/":
            continue
        if part == "*":
            kwonly = True
            continue
        if part.startswith("**"):
            varkw = True
            continue
        if part.startswith("*"):
            varargs = True
            kwonly = True
            continue
        name = part.split("=")[0].split(":")[0].strip().split()[-1]
        if name == "self":
            continue
        names.append(name)
        if not kwonly:
            npos += 1
    _parsed[sig] = (names, npos, varargs, varkw)
    return _parsed[sig]


def check_call(what, sig, args, kwargs):
    parsed = parse_sig(sig)
    if parsed is None:
        return
    names, npos, varargs, varkw = parsed
    if not varargs and len(args) > npos:
        raise TypeError(f"{what}() takes at most {npos} positional arguments ({len(args)} "
                        "given) [emulated GPU: cupy 14.2 signature " + sig + "]")
    if not varkw:
        for k in kwargs:
            if k not in names:
                raise TypeError(f"{what}() got an unexpected keyword argument '{k}' "
                                f"[emulated GPU: cupy 14.2 signature {sig}]")


