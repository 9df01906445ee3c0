"""The prediction API (the Lambda function behind API Gateway): predictor, request validation, errors, settings."""
