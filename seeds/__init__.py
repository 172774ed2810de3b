"""The seed news site (``site/``) that ``newsflow demo`` serves, and the seed post it was built around.

Package data only: ``importlib.resources.files("newsflow.seeds") / "site"`` finds it in a checkout
and in an installed wheel alike.
"""
