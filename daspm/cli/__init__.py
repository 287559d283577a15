"""Command-line entry points: ``daspm-train``, ``daspm-test``, ``daspm-map`` and the scripts' code.

The top layer: these modules may import anything in ``daspm``; nothing in ``daspm`` imports them.
The scripts of the checkout (``run_experiments.py``, ``tools/*.py``, ``demo/image_demo.py``) are
thin wrappers around the ``main`` functions here. A ``main`` returns what it made (for tests and
notebooks); ``cli`` is the console-script target, which must not return it (``sys.exit`` would
print it).
"""
