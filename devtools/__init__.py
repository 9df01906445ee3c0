"""Development tools shared by tests, bench and scripts: a real `chalice local`, free ports, the Lambda Runtime API
harness, a Docker engine, a moto environment, CloudWatch events. Never shipped to Lambda."""
