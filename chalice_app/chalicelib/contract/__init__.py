"""What crosses between training and the runtime: the bundle manifest, the drift reference, the prediction
log line and its index fields. export/ writes these formats; the API, the shipper, monitoring, bench and infra
read them through this package."""
