"""What AWS checks of a SigV4-signed request, recomputed with botocore's own SigV4 code, for the test proxy in front
of the OpenSearch test server (osmem-server checks no signature).

The rule (AWS Signature Version 4, as Amazon OpenSearch Service applies it to an IAM-protected endpoint): the request
carries `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request,
SignedHeaders=<h1;h2;...>, Signature=<hex>` and X-Amz-Date; the credential scope names the endpoint's region and
service (es for a domain, aoss for Serverless); host and x-amz-date are among the signed headers; a body hash in
x-amz-content-sha256 matches the body; and the signature equals HMAC-SHA256 of the canonical request under the key
derived from the secret of that key id. Anything else is answered 403 with the message AWS gives.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class SigV4Check:
    """The endpoint's region and service and the one key pair it trusts (test credentials)."""

    region: str
    service: str
    access_key: str
    secret_key: str
    token: str | None = None

    def problem(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> str | None:
        """Why AWS would answer 403 (None when the signature is valid)."""
        lower = {k.lower(): v for k, v in headers.items()}
        authorization = lower.get("authorization")
        if not authorization:
            return f"User: anonymous is not authorized to perform: {self.service}:ESHttp{method.capitalize()}"
        match = _AUTHORIZATION.match(authorization.strip())
        if not match:
            return "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters"
        key_id, day, region, service, terminal = (match["credential"].split("/") + [""] * 5)[:5]
        amz_date = lower.get("x-amz-date", "")
        if key_id != self.access_key:
            return "The security token included in the request is invalid."
        if region != self.region:
            return f"Credential should be scoped to a valid region, not '{region}'. "
        if service != self.service or terminal != "aws4_request":
            return f"Credential should be scoped to correct service: '{self.service}'. "
        if not amz_date.startswith(day):
            return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "'Host' and 'X-Amz-Date' must be signed headers"
        if self.token is not None and lower.get("x-amz-security-token") != self.token:
            return "The security token included in the request is invalid."
        declared = lower.get("x-amz-content-sha256")
        if declared is not None and declared not in ("UNSIGNED-PAYLOAD", hashlib.sha256(body).hexdigest()):
            return "The provided 'x-amz-content-sha256' header does not match what was computed."
        if not hmac.compare_digest(self.signature(method, url, lower, signed, body, amz_date), match["signature"]):
            return (
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details."
            )
        return None

    def signature(
        self, method: str, url: str, headers: Mapping[str, str], signed: list[str], body: bytes, amz_date: str
    ) -> str:
        """The signature of the request over exactly the headers it says it signed (botocore's canonical form)."""
        request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
        request.context["timestamp"] = amz_date
        auth = SigV4Auth(Credentials(self.access_key, self.secret_key, self.token), self.service, self.region)
        canonical = auth.canonical_request(request)
        signature: str = auth.signature(auth.string_to_sign(request, canonical), request)
        return signature
