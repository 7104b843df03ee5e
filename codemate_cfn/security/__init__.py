"""The security gate: checkov on every built template, once per parameter
file, with every exception written next to its resource.

- environments.py: each environment's copy of the templates (Defaults set
  to its values, so checkov decides conditions as that environment
  deploys) without the skips whose condition is false there.
- scan.py: checkov run once over every copy, its JSON report read into
  passed / failed / skipped per environment and template.
- page.py: docs/security.md, every skip with where it applies and why.
- __main__.py: `python -m codemate_cfn.security scan|docs`.

checkov pins older boto3, networkx and packaging than the project, so it
lives in its own environment (`tox -e security`); nothing here imports it,
and nothing else in the package imports this one. The skip format itself is
codemate_cfn/scanner_skips.py, which the layers' kit writes through."""
