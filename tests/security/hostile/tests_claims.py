# A wrong solution whose answers claim to equal anything: __eq__ always True, __ne__ always
# False, every ordering True, arithmetic returning itself; builtin subclasses with the
# same __eq__; an object lying about its class; a generator of such objects. `f(kind)`.
import math


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __lt__

    def __bool__(self):
        return True

    def __sub__(self, other):
        return self

    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__

    def __abs__(self):
        return self

    def __float__(self):
        return math.nan

    def __index__(self):
        return 0

    def __len__(self):
        return 1

    def __contains__(self, item):
        return True

    __hash__ = object.__hash__


class EqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class EqualStr(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


class EqualList(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class EqualFloat(float):
    def __eq__(self, other):
        return True

    def __lt__(self, other):
        return True

    def __sub__(self, other):
        return self

    def __abs__(self):
        return self

    __hash__ = float.__hash__


class ClaimsToBeAnInt(AlwaysEqual):
    @property
    def __class__(self):
        return int

    def __int__(self):
        return 0


def _generate():
    yield AlwaysEqual()


def f(kind):
    return {"always": AlwaysEqual, "int": lambda: EqualInt(0), "str": lambda: EqualStr("wrong"),
            "list": lambda: EqualList([0]), "float": lambda: EqualFloat(0.0), "liar": ClaimsToBeAnInt,
            "gen": _generate}[kind]()
