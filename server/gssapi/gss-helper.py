"""GSS-API security contexts for wsocks, over python-gssapi (Debian python3-gssapi, MIT libgssapi_krb5).

Why a helper process: RFC 1961 needs gss_wrap and gss_unwrap on both sides (the sealed protection level, then
encapsulated data). npm `kerberos` offers no wrap/unwrap to an acceptor, and its initiator wrap always rewrites the
input into a SASL GSSAPI negotiation message, so it cannot carry SOCKS data. This process keeps the contexts; its
environment names the credentials (KRB5_KTNAME for an acceptor, KRB5CCNAME / KRB5_CLIENT_KTNAME for an
initiator), so the Node process's own environment is never touched.

Usage: gss-helper.py accept SERVICE | gss-helper.py initiate [PRINCIPAL]
Protocol (server/gssapi/gss-helper.ts): one JSON object a line each way. First line out: {"ready": true} or
{"ready": false, "error": ...}. Requests {"id", "op": "step"|"wrap"|"unwrap"|"delete", "ctx", "token"|"data",
"conf", "service"} get {"id", "ok": true, ...} or {"id", "ok": false, "error"}. Tokens and data are base64.
"""
import base64
import json
import sys

try:
    import gssapi
except ImportError as e:  # reported to the Node side
    print(json.dumps({"ready": False, "error": f"python3-gssapi is not installed: {e}"}), flush=True)
    sys.exit(1)

b64d = base64.b64decode
FLAGS = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.out_of_sequence_detection,
         gssapi.RequirementFlag.integrity, gssapi.RequirementFlag.confidentiality]


def b64e(b):
    return base64.b64encode(b or b"").decode("ascii")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    arg = sys.argv[2] if len(sys.argv) > 2 else ""
    try:
        if mode == "accept":
            name = gssapi.Name(arg, gssapi.NameType.hostbased_service) if arg else None
            creds = gssapi.Credentials(name=name, usage="accept")
        elif mode == "initiate":
            name = gssapi.Name(arg, gssapi.NameType.kerberos_principal) if arg else None
            creds = gssapi.Credentials(name=name, usage="initiate")
        else:
            raise ValueError(f"unknown mode {mode!r}")
        # Fail now, not at the first connection, when there is no key or no ticket.
        creds.inquire()
    except Exception as e:  # noqa: BLE001 - any failure is reported as text
        print(json.dumps({"ready": False, "error": str(e)}), flush=True)
        return 1
    print(json.dumps({"ready": True}), flush=True)
    contexts = {}
    for line in sys.stdin:
        req = json.loads(line)
        rid, op, cid = req.get("id"), req.get("op"), req.get("ctx")
        try:
            if op == "delete":
                contexts.pop(cid, None)
                continue
            if op == "step":
                ctx = contexts.get(cid)
                if ctx is None:
                    if mode == "accept":
                        ctx = gssapi.SecurityContext(creds=creds, usage="accept")
                    else:
                        target = gssapi.Name(req["service"], gssapi.NameType.hostbased_service)
                        ctx = gssapi.SecurityContext(name=target, creds=creds, usage="initiate", flags=FLAGS)
                    contexts[cid] = ctx
                token = b64d(req.get("token") or "")
                out = ctx.step(token if token or mode == "accept" else None)
                res = {"token": b64e(out), "complete": ctx.complete}
                if ctx.complete and mode == "accept":
                    res["principal"] = str(ctx.initiator_name)
            elif op == "wrap":
                res = {"token": b64e(contexts[cid].wrap(b64d(req["data"]), bool(req.get("conf"))).message)}
            elif op == "unwrap":
                res = {"data": b64e(contexts[cid].unwrap(b64d(req["token"])).message)}
            else:
                raise ValueError(f"unknown op {op!r}")
            res.update(id=rid, ok=True)
        except Exception as e:  # noqa: BLE001
            res = {"id": rid, "ok": False, "error": str(e) or type(e).__name__}
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
