-- wrk script: a storm of successful sign-ins (bcrypt at the gateway's configured cost).
wrk.method = "POST"
wrk.body = '{"username":"bench","password":"benchmark password"}'
wrk.headers["Content-Type"] = "application/json"
