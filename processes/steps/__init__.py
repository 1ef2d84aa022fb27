"""Built-in steps, one module each.

The `wharf.components` entry point `steps` names this package; importing it imports
every module in it, so that a new step is one new module (plus its test).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
