#!/usr/bin/python3
"""route53.py - a Route 53 endpoint for revenant's tests (standard library
and Debian's python3-botocore only).

  route53.py --port-file F [--zone-id Z1EXAMPLE] [--zone-name example.com]
             [--state FILE.json] [--insync-delay SECONDS]
             [--access-key AKID --secret-key SECRET] [--log FILE]

Serves on 127.0.0.1 (a free port, written to --port-file once listening):

  POST /2013-04-01/hostedzone/{Id}/rrset[/]   ChangeResourceRecordSets
  GET  /2013-04-01/hostedzone/{Id}/rrset      ListResourceRecordSets
  GET  /2013-04-01/change/{Id}                GetChange

with Route 53's semantics where revenant relies on them: a change batch is
applied all or nothing; a DELETE must match the current set exactly (TTL,
values, weight, alias target, health check), else InvalidChangeBatch; a
CREATE of an existing set fails the same way; sets are keyed by name, type
and SetIdentifier; a change is PENDING until --insync-delay seconds have
passed, then INSYNC; lists start at name/type(/identifier) in Route 53's
order (labels reversed) and are cut at maxitems with IsTruncated and
NextRecordName/Type/Identifier.  Errors are Route 53's documented
ErrorResponse/Error/{Type,Code,Message} + RequestId (InvalidChangeBatch's
messages bracketed in its Message, as botocore shows them) with Route 53's
HTTP statuses.

Every request is checked the way AWS would check it, with botocore (through
awscheck.py, shared with kms.py and s3_versions.py), so the fake cannot
agree with a wrong request:
  - the SigV4 signature is recomputed with botocore.auth.SigV4Auth over the
    headers the request says it signed (credentials from the command line,
    region us-east-1, service route53, the request's X-Amz-Date) and must
    equal the Authorization header: else 403 SignatureDoesNotMatch (a wrong
    access key: 403 InvalidClientTokenId);
  - a change body is parsed against the ChangeResourceRecordSets input shape
    of botocore's Route 53 service model (every element known, in the
    Route 53 namespace, typed) and validated with botocore's
    validate_parameters; list queries likewise against
    ListResourceRecordSets.  A body that fails: 400 InvalidInput.

Control (unsigned, not counted):
  GET  /_ctl/state           the record sets as JSON (botocore's parameter form)
  PUT  /_ctl/state           replace them (JSON list) - "changed behind its back"
  POST /_ctl/fault           {"code": "Throttling", "n": 2, "op": "ChangeResourceRecordSets"}
                             answer the next n requests of op ("*": any) with
                             that error (Throttling, PriorRequestNotComplete,
                             AccessDenied, ExpiredToken, InvalidInput,
                             NoSuchHostedZone, ServiceUnavailable, InternalError)
  POST /_ctl/insync-delay    {"seconds": 1.0}
  GET  /_ctl/stats           {"requests": {op: n}, "bad_signature": n,
                              "bad_body": n, "faults": n, "getchange": [t...],
                              "actions": {CREATE|DELETE|UPSERT: n applied}}
"""
import argparse
import copy
import json
import os
import secrets
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from awscheck import Fail, Model, SigV4

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
# Route 53 answers every bad element, value or parameter with InvalidInput.
MODEL = Model("route53", NS, bad_xml="InvalidInput", bad_value="InvalidInput")
STATUS = {
    "Throttling": 400, "PriorRequestNotComplete": 400, "InvalidInput": 400,
    "InvalidChangeBatch": 400, "AccessDenied": 403, "ExpiredToken": 403,
    "InvalidClientTokenId": 403, "SignatureDoesNotMatch": 403, "IncompleteSignature": 403,
    "NoSuchHostedZone": 404, "NoSuchChange": 404, "ServiceUnavailable": 503,
    "InternalError": 500,
}


def norm_name(n):
    n = n.lower()
    return n if n.endswith(".") else n + "."


def sort_key(name, rtype="", ident=""):
    return (tuple(reversed(norm_name(name).rstrip(".").split("."))), rtype, ident)


def canon_set(s):
    """What an exact-match DELETE compares."""
    c = {k: v for k, v in s.items() if k != "ResourceRecords"}
    c["Name"] = norm_name(s["Name"])
    if "ResourceRecords" in s:
        c["ResourceRecords"] = sorted(r["Value"] for r in s["ResourceRecords"])
    if "AliasTarget" in s:
        a = dict(s["AliasTarget"])
        a["DNSName"] = norm_name(a["DNSName"])
        c["AliasTarget"] = a
    return c


def set_xml(s):
    out = ["<ResourceRecordSet>", f"<Name>{escape(s['Name'])}</Name>",
           f"<Type>{s['Type']}</Type>"]
    if "SetIdentifier" in s:
        out.append(f"<SetIdentifier>{escape(s['SetIdentifier'])}</SetIdentifier>")
    if "Weight" in s:
        out.append(f"<Weight>{s['Weight']}</Weight>")
    if "TTL" in s:
        out.append(f"<TTL>{s['TTL']}</TTL>")
    if "ResourceRecords" in s:
        out.append("<ResourceRecords>")
        for r in s["ResourceRecords"]:
            out.append(f"<ResourceRecord><Value>{escape(r['Value'])}</Value></ResourceRecord>")
        out.append("</ResourceRecords>")
    if "AliasTarget" in s:
        a = s["AliasTarget"]
        out.append(f"<AliasTarget><HostedZoneId>{escape(a['HostedZoneId'])}</HostedZoneId>"
                   f"<DNSName>{escape(a['DNSName'])}</DNSName><EvaluateTargetHealth>"
                   f"{'true' if a['EvaluateTargetHealth'] else 'false'}</EvaluateTargetHealth>"
                   "</AliasTarget>")
    if "HealthCheckId" in s:
        out.append(f"<HealthCheckId>{escape(s['HealthCheckId'])}</HealthCheckId>")
    out.append("</ResourceRecordSet>")
    return "".join(out)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class Zone:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.zone_id = args.zone_id
        self.zone = norm_name(args.zone_name)
        self.sets = {}
        self.changes = {}
        self.faults = []
        self.delay = args.insync_delay
        self.stats = {"requests": {}, "bad_signature": 0, "bad_body": 0, "faults": 0,
                      "getchange": [], "actions": {}}
        self.sigv4 = SigV4(
            "route53", "us-east-1", args.access_key, args.secret_key,
            incomplete="IncompleteSignature", invalid="SignatureDoesNotMatch", errors={
                "access_key": ("InvalidClientTokenId", None),
                "scope": (None, "Credential should be scoped to a valid region and service "
                          "{want_service} in {want_region}, not '{region}/{service}'"),
                "required": (None, "host and x-amz-date must be signed")})
        apex = [{"Name": self.zone, "Type": "SOA", "TTL": 900, "ResourceRecords": [
                    {"Value": "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}]},
                {"Name": self.zone, "Type": "NS", "TTL": 172800, "ResourceRecords": [
                    {"Value": "ns-1.awsdns-01.org."}]}]
        initial = apex
        if args.state:
            with open(args.state, encoding="utf-8") as f:
                initial = apex + json.load(f)
        self.load(initial)

    def key(self, s):
        return (norm_name(s["Name"]), s["Type"], s.get("SetIdentifier", ""))

    def load(self, sets):
        self.sets = {}
        for s in sets:
            s = dict(s)
            s["Name"] = norm_name(s["Name"])
            self.sets[self.key(s)] = s

    def dump(self):
        return [self.sets[k] for k in sorted(self.sets, key=lambda k: sort_key(*k))]

    def check_set(self, s):
        """Route 53's own rules beyond the model's shapes."""
        name = norm_name(s["Name"])
        if not (name == self.zone or name.endswith("." + self.zone)):
            raise Fail("InvalidChangeBatch", "", [
                f"RRSet with DNS name {name} is not permitted in zone {self.zone}"])
        alias = "AliasTarget" in s
        if alias and ("TTL" in s or "ResourceRecords" in s):
            raise Fail("InvalidInput", "Invalid request: an alias set has no TTL or "
                       "ResourceRecords")
        if not alias and ("TTL" not in s or not s.get("ResourceRecords")):
            raise Fail("InvalidInput", "Invalid request: Expected exactly one of "
                       "[AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], "
                       f"but found none in Change with [Action={s.get('_action')}, "
                       f"Name={name}, Type={s['Type']}, SetIdentifier="
                       f"{s.get('SetIdentifier')}]")
        if ("Weight" in s) != ("SetIdentifier" in s):
            raise Fail("InvalidInput", "Invalid request: Weight and SetIdentifier go together")
        if s["Type"] == "CNAME" and len(s.get("ResourceRecords", [])) > 1:
            raise Fail("InvalidChangeBatch", "", ["A CNAME has exactly one value"])

    def apply(self, changes):
        new = copy.deepcopy(self.sets)
        msgs = []
        for ch in changes:
            s, action = dict(ch["ResourceRecordSet"]), ch["Action"]
            s["_action"] = action
            self.check_set(s)
            del s["_action"]
            s["Name"] = norm_name(s["Name"])
            k = self.key(s)
            desc = f"[name='{k[0]}', type='{k[1]}'" + (f", set-identifier='{k[2]}'" if k[2] else "") + "]"
            if action == "CREATE":
                if k in new:
                    msgs.append(f"Tried to create resource record set {desc} but it already exists")
                    continue
                other = [o for o in new if o[0] == k[0] and o[1] == k[1] and bool(o[2]) != bool(k[2])]
                if other:
                    msgs.append(f"RRSet of type {k[1]} with DNS name {k[0]} is not permitted "
                                "because a conflicting RRSet of type {k[1]} with the same DNS "
                                "name already exists")
                    continue
                new[k] = s
            elif action == "DELETE":
                if k not in new:
                    msgs.append(f"Tried to delete resource record set {desc} but it was not found")
                elif canon_set(new[k]) != canon_set(s):
                    msgs.append(f"Tried to delete resource record set {desc} but the values "
                                "provided do not match the current values")
                else:
                    del new[k]
            elif action == "UPSERT":
                new[k] = s
            else:
                raise Fail("InvalidInput", f"unknown Action {action}")
        if msgs:
            raise Fail("InvalidChangeBatch", msgs[0], msgs)
        for ch in changes:
            self.stats["actions"][ch["Action"]] = self.stats["actions"].get(ch["Action"], 0) + 1
        self.sets = new
        cid = "C" + secrets.token_hex(10).upper()
        self.changes[cid] = time.time()
        return cid

    def listing(self, name, rtype, ident, maxitems):
        keys = sorted(self.sets, key=lambda k: sort_key(*k))
        if name:
            start = sort_key(name, rtype or "", ident or "")
            keys = [k for k in keys if sort_key(*k) >= start]
        page, rest = keys[:maxitems], keys[maxitems:]
        out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListResourceRecordSetsResponse xmlns="{NS}">',
               "<ResourceRecordSets>"]
        out += [set_xml(self.sets[k]) for k in page]
        out.append("</ResourceRecordSets>")
        out.append(f"<IsTruncated>{'true' if rest else 'false'}</IsTruncated>")
        if rest:
            n = rest[0]
            out.append(f"<NextRecordName>{escape(n[0])}</NextRecordName><NextRecordType>{n[1]}</NextRecordType>")
            if n[2]:
                out.append(f"<NextRecordIdentifier>{escape(n[2])}</NextRecordIdentifier>")
        out.append(f"<MaxItems>{maxitems}</MaxItems></ListResourceRecordSetsResponse>")
        return "".join(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    zone = None

    def log_message(self, fmt, *args):
        if self.zone.args.log:
            with open(self.zone.args.log, "a", encoding="utf-8") as f:
                f.write("%s %s\n" % (self.address_string(), fmt % args))

    def send(self, code, body, ctype="text/xml"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(data)

    def error(self, f):
        rid = secrets.token_hex(16)
        message = f.message
        if f.code == "InvalidChangeBatch":
            # As Route 53 writes it (and botocore reads it): the batch's
            # messages, bracketed, in one Message.
            message = "[" + ", ".join(f.messages or [f.message]) + "]"
        kind = "Receiver" if STATUS.get(f.code, 400) >= 500 else "Sender"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{NS}">'
                f"<Error><Type>{kind}</Type><Code>{f.code}</Code><Message>{escape(message)}"
                f"</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        self.send(STATUS.get(f.code, 400), body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_api(self):
        z = self.zone
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/")
        body = self.body() if self.command in ("POST", "PUT") else b""
        seg = path.split("/")
        if len(seg) == 5 and seg[1:3] == ["2013-04-01", "hostedzone"] and seg[4] == "rrset":
            op = "ChangeResourceRecordSets" if self.command == "POST" else "ListResourceRecordSets"
        elif len(seg) == 4 and seg[1:3] == ["2013-04-01", "change"] and self.command == "GET":
            op = "GetChange"
        else:
            return self.send(404, "<UnknownOperationException/>")
        with z.lock:
            z.stats["requests"][op] = z.stats["requests"].get(op, 0) + 1
        try:
            z.sigv4.verify_counted(self, body, z.lock, z.stats)
        except Fail as f:
            return self.error(f)
        with z.lock:
            for fault in z.faults:
                if fault["n"] > 0 and fault.get("op", "*") in ("*", op):
                    fault["n"] -= 1
                    z.stats["faults"] += 1
                    return self.error(Fail(fault["code"], fault.get("message", "Rate exceeded")))
            try:
                if op == "GetChange":
                    z.stats["getchange"].append(time.time())
                    t = z.changes.get(seg[3])
                    if t is None:
                        raise Fail("NoSuchChange", f"A change with the specified change ID does not exist.")
                    st = "INSYNC" if time.time() >= t + z.delay else "PENDING"
                    return self.send(200, f'<?xml version="1.0" encoding="UTF-8"?>\n<GetChangeResponse xmlns="{NS}">'
                                     f"<ChangeInfo><Id>/change/{seg[3]}</Id><Status>{st}</Status>"
                                     f"<SubmittedAt>{iso(t)}</SubmittedAt></ChangeInfo></GetChangeResponse>")
                if seg[3] != z.zone_id:
                    raise Fail("NoSuchHostedZone", f"No hosted zone found with ID: {seg[3]}")
                if op == "ListResourceRecordSets":
                    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                    names = {"name": "StartRecordName", "type": "StartRecordType",
                             "identifier": "StartRecordIdentifier", "maxitems": "MaxItems"}
                    params = {"HostedZoneId": seg[3]}
                    for k, v in q.items():
                        if k not in names or len(v) != 1:
                            raise Fail("InvalidInput", f"unknown or repeated query parameter {k}")
                        params[names[k]] = v[0]
                    MODEL.validate(op, params)
                    if "StartRecordType" in params and "StartRecordName" not in params:
                        raise Fail("InvalidInput", "The input is not valid: type without name")
                    if "StartRecordIdentifier" in params and "StartRecordType" not in params:
                        raise Fail("InvalidInput", "The input is not valid: identifier without type")
                    try:
                        mi = int(params.get("MaxItems", "300"))
                    except ValueError:
                        raise Fail("InvalidInput", "maxitems is not a number")
                    if mi < 1 or mi > 300:
                        raise Fail("InvalidInput", "maxitems must be 1-300")
                    return self.send(200, z.listing(params.get("StartRecordName"),
                                                    params.get("StartRecordType"),
                                                    params.get("StartRecordIdentifier"), mi))
                # ChangeResourceRecordSets
                shape = MODEL.operation(op).input_shape
                try:
                    root = ET.fromstring(body)
                except ET.ParseError as e:
                    z.stats["bad_body"] += 1
                    raise Fail("InvalidInput", f"the body is not XML: {e}")
                if root.tag != "{%s}%s" % (NS, shape.serialization["name"]):
                    z.stats["bad_body"] += 1
                    raise Fail("InvalidInput", f"root element {root.tag} is not "
                               f"{{{NS}}}{shape.serialization['name']}")
                try:
                    params = MODEL.xml_to_params(root, shape, shape.serialization["name"])
                    params["HostedZoneId"] = seg[3]
                    MODEL.validate(op, params)
                except Fail:
                    z.stats["bad_body"] += 1
                    raise
                cid = z.apply(params["ChangeBatch"]["Changes"])
                comment = params["ChangeBatch"].get("Comment")
                c = f"<Comment>{escape(comment)}</Comment>" if comment else ""
                return self.send(200, f'<?xml version="1.0" encoding="UTF-8"?>\n'
                                 f'<ChangeResourceRecordSetsResponse xmlns="{NS}"><ChangeInfo>'
                                 f"<Id>/change/{cid}</Id><Status>PENDING</Status>"
                                 f"<SubmittedAt>{iso(z.changes[cid])}</SubmittedAt>{c}"
                                 "</ChangeInfo></ChangeResourceRecordSetsResponse>")
            except Fail as f:
                return self.error(f)

    def handle_ctl(self):
        z = self.zone
        body = self.body() if self.command in ("POST", "PUT") else b""
        with z.lock:
            if self.path == "/_ctl/state" and self.command == "GET":
                return self.send(200, json.dumps(z.dump()), "application/json")
            if self.path == "/_ctl/state" and self.command == "PUT":
                z.load(json.loads(body))
                return self.send(200, "{}", "application/json")
            if self.path == "/_ctl/fault":
                z.faults.append(json.loads(body))
                return self.send(200, "{}", "application/json")
            if self.path == "/_ctl/insync-delay":
                z.delay = float(json.loads(body)["seconds"])
                return self.send(200, "{}", "application/json")
            if self.path == "/_ctl/stats":
                return self.send(200, json.dumps(z.stats), "application/json")
        return self.send(404, "{}", "application/json")

    def dispatch(self):
        if self.path.startswith("/_ctl/"):
            return self.handle_ctl()
        return self.handle_api()

    do_GET = do_POST = do_PUT = do_DELETE = dispatch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--zone-id", default="Z1EXAMPLE")
    ap.add_argument("--zone-name", default="example.com")
    ap.add_argument("--state")
    ap.add_argument("--insync-delay", type=float, default=0.0)
    ap.add_argument("--access-key", default="AKIDREVENANTTEST")
    ap.add_argument("--secret-key", default="revenant/route53+fake/secret")
    ap.add_argument("--log")
    args = ap.parse_args()
    Handler.zone = Zone(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
