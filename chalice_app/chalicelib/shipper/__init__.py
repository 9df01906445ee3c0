"""The log shipper (the ship_logs Lambda): CloudWatch Logs subscription events in, Elasticsearch documents out."""
