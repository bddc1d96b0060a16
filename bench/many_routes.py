#!/usr/bin/env python3
"""Writes a gatehouse configuration of 100 routes with 10 rules each, every route forwarding
to UPSTREAM (the first argument): exact hosts, wildcards and routes without hosts, path
prefixes, regexes, methods and networks. bench/routes.sh sends its load to
app57.example.com/bench, whose route is reached through the host table and whose ten rules
are all tried (none matches) before the route's own policy decides."""
import sys

upstream = sys.argv[1]
out = []
for i in range(100):
    if i % 10 == 3:
        hosts = f'hosts = ["*.w{i}.example.com"]'
    elif i % 10 == 9:
        hosts = ""  # a route for any host, under its own path
    else:
        hosts = f'hosts = ["app{i}.example.com", "alt{i}.example.com"]'
    path = f'path = "/only{i}"' if i % 10 == 9 else ""
    out.append(f'[[routes]]\nname = "r{i}"\n{hosts}\n{path}\nupstream = "http://{upstream}"\n'
               f'policy = "one_factor"\n')
    for j in range(10):
        kind = j % 5
        if kind == 0:
            rule = f'paths = ["/public{j}", "/static{j}/assets"]\npolicy = "bypass"'
        elif kind == 1:
            rule = f'paths = ["~^/api/v{j}/items/[0-9]+$"]\nmethods = ["GET", "HEAD"]\npolicy = "bypass"'
        elif kind == 2:
            rule = f'paths = ["/admin{j}"]\nallow = ["group:ops{j}", "user:root{j}"]'
        elif kind == 3:
            rule = f'paths = ["/internal{j}"]\nnetworks = ["10.{j}.0.0/16", "fd00:{j}::/32"]\npolicy = "bypass"'
        else:
            rule = f'paths = ["~^/export{j}/.*\\\\.csv$"]\nmethods = ["POST"]\npolicy = "deny"'
        out.append(f'  [[routes.rules]]\n  ' + rule.replace('\n', '\n  ') + '\n')
print('\n'.join(out))
