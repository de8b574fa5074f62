"""Registries filled by discovery: every module of a package is imported and the objects
it defines that belong to the registry are collected by name. So adding a loss, a
metric family or a dataset is adding a module (or a class to one); no list to edit."""
import importlib
import pkgutil


def discover(package_name, package_path, belongs, what):
    """{entry.name: entry} for every object `belongs(obj, module)` accepts in the modules
    of the package, in module-name order; two entries of one name are an error."""
    found = {}
    for module_info in sorted(pkgutil.iter_modules(package_path), key=lambda m: m.name):
        module = importlib.import_module(f"{package_name}.{module_info.name}")
        for value in vars(module).values():
            if belongs(value, module):
                if found.get(value.name, value) is not value:
                    raise RuntimeError(f"two {what} are named {value.name!r}")
                found[value.name] = value
    return found


def defined_subclass(base):
    """`belongs` for the classes with a `name` derived from `base` and defined in the module."""
    def belongs(value, module):
        return isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__ \
            and bool(value.name)
    return belongs
