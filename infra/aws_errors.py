"""Turn botocore failures into messages that say what went wrong and what to do, without printing secrets.

AWS error messages name the caller's ARN and the refused action, never a secret key; botocore's credential errors
name no values at all. Nothing here prints credentials, environment variables or request headers.
"""

from __future__ import annotations

from xml.etree import ElementTree

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

IAM_ACTIONS = {
    "CreateLogGroup": "logs:CreateLogGroup",
    "DescribeLogGroups": "logs:DescribeLogGroups",
    "PutRetentionPolicy": "logs:PutRetentionPolicy",
    "DescribeSubscriptionFilters": "logs:DescribeSubscriptionFilters",
    "PutSubscriptionFilter": "logs:PutSubscriptionFilter",
    "GetFunction": "lambda:GetFunction",
    "GetPolicy": "lambda:GetPolicy",
    "AddPermission": "lambda:AddPermission",
    "RemovePermission": "lambda:RemovePermission",
}
"""The IAM action each API operation these tools call needs (for access-denied messages)."""

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
HOW_TO_GIVE_CREDENTIALS = (
    "provide AWS credentials: AWS_PROFILE=<profile> (after `aws configure` or `aws sso login`), or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) in the environment, or run where a role "
    "is attached"
)


class SetupError(Exception):
    """A failure the user can act on; str() is the whole message."""


def error_fields(error: ClientError) -> tuple[str, str]:
    """The AWS error code and message of a ClientError.

    Some stand-ins (moto with IAM checks on) answer JSON APIs with an XML error document that botocore leaves
    unparsed (the code is then the HTTP status): Code and Message are read from that document.
    """
    fields = error.response.get("Error", {})
    code, message = str(fields.get("Code", "")), str(fields.get("Message", ""))
    if message.lstrip().startswith("<"):
        try:
            document = ElementTree.fromstring(message.strip())
        except ElementTree.ParseError:
            return code, message
        code = document.findtext(".//Code") or code
        message = document.findtext(".//Message") or message
    return code, message


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError ("" when the answer had none)."""
    return error_fields(error)[0]


def explain(error: Exception) -> SetupError:
    """A SetupError whose message says what failed and how to fix it."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return SetupError(f"no usable AWS credentials were found: {HOW_TO_GIVE_CREDENTIALS}")
    if isinstance(error, NoRegionError):
        return SetupError("no AWS region: pass --region (REGION= for make), or set AWS_REGION / AWS_DEFAULT_REGION")
    if isinstance(error, EndpointConnectionError):
        return SetupError(f"cannot reach the AWS endpoint: {error} (check --endpoint-url / ENDPOINT= and network)")
    if isinstance(error, ClientError):
        code, message = error_fields(error)
        operation = error.operation_name
        action = IAM_ACTIONS.get(operation, operation)
        if code in ACCESS_DENIED:
            return SetupError(
                f"access denied for {action}: the caller's IAM policy must allow {action} on the resource. "
                f"AWS said: {message}"
            )
        if code in BAD_CREDENTIALS:
            return SetupError(f"AWS refused the credentials ({code}) on {operation}: {HOW_TO_GIVE_CREDENTIALS}")
        return SetupError(f"{operation} failed: {code}: {message}")
    if isinstance(error, BotoCoreError):
        return SetupError(f"AWS call failed: {error}")
    return SetupError(str(error))
