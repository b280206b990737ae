#!/usr/bin/python3
# A /metrics endpoint served by Prometheus's official Python client
# (Debian's python3-prometheus-client), for the agent's scrape tests: it is
# the Debian-packaged exporter that speaks OpenMetrics (with # EOF, _created
# series, units and exemplars) when the Accept header asks for it, and the
# text format otherwise -- none of the Go binaries in Debian 12 does.
#
#   openmetrics_exporter.py PORT
import sys
import time

from prometheus_client import (Counter, Enum, Gauge, Histogram, Info, Summary,
                               start_http_server)

port = int(sys.argv[1])
requests = Counter("app_requests", "Requests served.", ["method", "code"])
latency = Histogram("app_request_duration_seconds", "Request latency.", ["path"],
                    unit="seconds", buckets=(0.01, 0.1, 1.0))
size = Summary("app_response_bytes", "Response sizes.", unit="bytes")
temperature = Gauge("app_temperature_celsius", "A gauge with special values.", ["probe"],
                    unit="celsius")
build = Info("app_build", "Build information.")
state = Enum("app_state", "Lifecycle state.", states=["starting", "running", "stopping"])

build.info({"version": "1.2.3", "revision": 'quote " and \\ backslash'})
state.state("running")
requests.labels("GET", "200").inc(1027)
requests.labels("POST", "500").inc(3)
latency.labels("/api/v1").observe(0.05, exemplar={"trace_id": "KOO5S4vxi0o"})
latency.labels("/api/v1").observe(0.5)
latency.labels("/").observe(2.0)
size.observe(512)
temperature.labels("inside").set(21.5)
temperature.labels("nan").set(float("nan"))
temperature.labels("hot").set(float("inf"))
temperature.labels("cold").set(float("-inf"))
temperature.labels('line\nbreak "quoted"').set(1)

start_http_server(port, addr="127.0.0.1")
while True:
    time.sleep(3600)
