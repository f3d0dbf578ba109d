# A Fraction built without reduction (as Fraction(..., _normalize=False) made one before
# Python 3.12): numerator and denominator of about three million bits each, with a common
# factor as large. Reducing it is a gcd that takes the taker quadratic time.
from fractions import Fraction


def unreduced():
    common = 3 ** 1_900_000
    value = object.__new__(Fraction)
    value._numerator, value._denominator = common * 2, common * 5
    return value


def huge():
    return Fraction(3 ** 3_000_000, 2)  # reduced, but each part written out has 1.4 million digits
