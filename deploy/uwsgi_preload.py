"""Imported once by uWSGI's master before it forks the workers (uwsgi.ini, shared-import).

Each worker imports the gateway itself (lazy-apps), so that a chain reload serves new
code; without this, each also re-imports the standard library modules the gateway
needs, about 5 MB of private memory per worker. Imported here, in the master, they are
shared by every worker (copy on write), and gc.freeze() keeps the garbage collector from
writing to, and so copying, their pages.

Only the standard library: it changes with the Python the master runs, never with a
release. Libraries from the venv (Flask, Werkzeug, ...) are not imported here, or a chain
reload after a dependency upgrade would keep serving the versions the master imported.

The list: the heavier standard library modules that importing gateway.wsgi loads (Python
3.11). `random` comes with them: uWSGI reseeds it in every worker after the fork (a test
holds it to that), and the master starts no thread that could hold a lock at the fork.
"""

# ruff: noqa: F401
import concurrent.futures
import csv
import dataclasses
import datetime
import decimal
import difflib
import email.feedparser
import email.parser
import email.utils
import gc
import hashlib
import hmac
import html.entities
import http.client
import http.server
import importlib.metadata
import importlib.resources
import inspect
import json
import logging
import mimetypes
import pickle
import pkgutil
import platform
import pprint
import queue
import shutil
import socketserver
import sqlite3
import ssl
import textwrap
import tokenize
import traceback
import typing
import urllib.request
import uuid
import zipfile

gc.freeze()
