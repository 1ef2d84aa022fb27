wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id": "A-1001", "amount": 1250.5, "customer": {"name": "Ada"}, "lines": [{"sku": "X1", "qty": 2}]}'
