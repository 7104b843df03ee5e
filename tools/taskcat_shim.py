"""`taskcat` as its own command line, but with the report's stylesheet read
from the launcher's local server (TASKCAT_CSS_URL) instead of GitHub: run
by tools/taskcat_local.py in the taskcat environment."""

import os
import sys

import requests

from taskcat._cli import main

CSS_URL = "https://raw.githubusercontent.com/aws-ia/taskcat/main/assets/css/taskcat_reporting.css"
_get = requests.get


def get(url, *args, **kwargs):
    if url == CSS_URL and os.environ.get("TASKCAT_CSS_URL"):
        url = os.environ["TASKCAT_CSS_URL"]
    return _get(url, *args, **kwargs)


requests.get = get

if __name__ == "__main__":
    sys.argv[0] = "taskcat"
    main()
