"""Dimension algebra: a dim is an ``int``, a symbolic :class:`Expr`, or ``None`` (unknown).

Symbolic dims are integer polynomials over atoms.  An atom is a symbol (``N``) or a
floor division of a polynomial by a positive integer (``floor((H + 1)/2)``).  Every
result is put in a canonical form, so equal expressions compare equal, hash equal and
print the same, and nested floors collapse: ``floor(floor(H/2)/2)`` is ``floor(H/4)``.

The helpers at the bottom (:func:`add`, :func:`mul`, :func:`floordiv`, ...) accept
``None`` and propagate it: unknown in, unknown out, never a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional, Union, cast, overload

if TYPE_CHECKING:
    from typing_extensions import TypeIs

Dim = Union[int, "Expr", None]
#: A known dim: what arithmetic on dims gives when no operand is ``None``.
KnownDim = Union[int, "Expr"]


class _Atom:
    """Base of the indivisible pieces of a monomial."""

    __slots__ = ()
    sort_key: tuple[int | str, ...]


class Symbol(_Atom):
    """One object per name (``Symbol("N") is Symbol("N")``), so equality and hashing are
    object identity, done in C: monomials hash their atoms on every dict lookup."""

    __slots__ = ("name", "sort_key")
    name: str

    def __new__(cls, name: str) -> Symbol:
        symbol = _SYMBOLS.get(name)
        if symbol is None:
            symbol = _SYMBOLS[name] = super().__new__(cls)
            symbol.name = name
            symbol.sort_key = (0, name)
        return symbol

    def __reduce__(self) -> tuple[type[Symbol], tuple[str]]:  # unpickled and copied symbols are the interned ones too
        return Symbol, (self.name,)

    def __str__(self) -> str:
        name = self.name
        return name if _is_plain_name(name) else f"({name})"


class FloorDiv(_Atom):
    """``floor(num / den)`` where ``num`` is a non-constant polynomial and ``den > 1``."""

    __slots__ = ("num", "den", "sort_key")

    def __init__(self, num: Expr, den: int) -> None:
        self.num = num
        self.den = den
        self.sort_key = (1, str(num), den)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloorDiv) and other.den == self.den and other.num == self.num

    def __hash__(self) -> int:
        return hash(("floor", self.num, self.den))

    def __str__(self) -> str:
        inner = str(self.num)
        if len(self.num.terms) > 1:
            inner = f"({inner})"
        return f"floor({inner}/{self.den})"


def _is_plain_name(name: str) -> bool:
    return name.replace("_", "a").replace(".", "a").replace(":", "a").isalnum()


# A monomial is a tuple of atoms sorted by sort_key (repetition means a power);
# the empty tuple is the constant monomial.
Atom = Union[Symbol, FloorDiv]
Monomial = tuple[Atom, ...]
Term = tuple[Monomial, int]   # (monomial, non-zero coefficient)


class Expr:
    """An integer polynomial in canonical form.  Use :func:`sym` to make one."""

    __slots__ = ("terms", "_hash", "_str")
    terms: tuple[Term, ...]
    _hash: int | None
    _str: str | None

    def __init__(self, terms: Mapping[Monomial, int]) -> None:
        items = [(m, c) for m, c in terms.items() if c]
        if len(items) > 1:
            items.sort(key=_term_key)
        self.terms = tuple(items)
        self._hash = None
        self._str = None

    @classmethod
    def _canonical(cls, terms: tuple[Term, ...]) -> Expr:
        """Wrap terms already in canonical order (the hot paths' shortcut)."""
        expr = cls.__new__(cls)
        expr.terms = terms
        expr._hash = None   # hashed on first use: most intermediate results never are
        expr._str = None
        return expr

    # -- construction helpers -------------------------------------------------
    @staticmethod
    def lift(value: KnownDim) -> Expr:
        if isinstance(value, Expr):
            return value
        return Expr({(): int(value)})

    def _normal(self) -> KnownDim:
        """Constant polynomials become plain ints."""
        if not self.terms:
            return 0
        if len(self.terms) == 1 and self.terms[0][0] == ():
            return self.terms[0][1]
        return self

    @property
    def constant(self) -> int:
        for mono, coeff in self.terms:
            if mono == ():
                return coeff
        return 0

    def symbols(self) -> set[str]:
        found: set[str] = set()
        for mono, _ in self.terms:
            for atom in mono:
                if isinstance(atom, Symbol):
                    found.add(atom.name)
                else:
                    found |= atom.num.symbols()
        return found

    # -- arithmetic ----------------------------------------------------------
    @overload
    def __add__(self, other: None) -> None: ...
    @overload
    def __add__(self, other: KnownDim) -> KnownDim: ...
    def __add__(self, other: Dim) -> Dim:
        if other is None:
            return None
        if isinstance(other, int):
            if not other:
                return self
            # The constant term, if any, is last in canonical order.
            terms = self.terms
            if terms[-1][0] == ():
                const = terms[-1][1] + other
                terms = terms[:-1] + (((), const),) if const else terms[:-1]
            else:
                terms = terms + (((), other),)
            return Expr._canonical(terms)._normal()
        other = Expr.lift(other)
        acc = dict(self.terms)
        for mono, coeff in other.terms:
            acc[mono] = acc.get(mono, 0) + coeff
        return Expr(acc)._normal()

    __radd__ = __add__

    def __neg__(self) -> KnownDim:
        return Expr({m: -c for m, c in self.terms})._normal()

    @overload
    def __sub__(self, other: None) -> None: ...
    @overload
    def __sub__(self, other: KnownDim) -> KnownDim: ...
    def __sub__(self, other: Dim) -> Dim:
        if other is None:
            return None
        return self + (-Expr.lift(other))

    def __rsub__(self, other: int) -> KnownDim:
        return Expr.lift(other) - self

    @overload
    def __mul__(self, other: None) -> None: ...
    @overload
    def __mul__(self, other: KnownDim) -> KnownDim: ...
    def __mul__(self, other: Dim) -> Dim:
        if other is None:
            return None
        if isinstance(other, int):
            if not other:
                return 0
            return Expr._canonical(tuple((m, c * other) for m, c in self.terms))
        other = Expr.lift(other)
        acc: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                mono = tuple(sorted(m1 + m2, key=lambda a: a.sort_key))
                acc[mono] = acc.get(mono, 0) + c1 * c2
        return Expr(acc)._normal()

    __rmul__ = __mul__

    def __floordiv__(self, other: Dim) -> Dim:
        return floordiv(self, other)

    def __rfloordiv__(self, other: Dim) -> Dim:
        return floordiv(other, self)

    def __mod__(self, other: Dim) -> Dim:
        quotient = floordiv(self, other)
        if quotient is None or other is None:  # floordiv gives None whenever other is None
            return None
        return self - quotient * other

    def __truediv__(self, other: Dim) -> Dim:
        return exact_div(self, other)

    # -- comparison / display ------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Expr):
            return self.terms == other.terms
        return False

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.terms)
        return self._hash

    def __str__(self) -> str:
        text = self._str
        if text is None:
            # Shared by equal expressions: every node's output volume is rebuilt by prod().
            text = _TEXT.get(self.terms)
            if text is None:
                text = _TEXT[self.terms] = self._render()
            self._str = text
        return text

    def _render(self, thousands: bool = False) -> str:
        parts: list[str] = []
        for mono, coeff in self.terms:
            body = _mono_str(mono)
            number = f"{abs(coeff):,}" if thousands else str(abs(coeff))
            if not body:
                text = number
            elif abs(coeff) == 1:
                text = body
            else:
                text = f"{number}*{body}"
            if not parts:
                parts.append(text if coeff > 0 else f"-{text}")
            else:
                parts.append(("+ " if coeff > 0 else "- ") + text)
        # Constant last reads better: "H + 1", not "1 + H".
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Expr({str(self)!r})"

    def subs(self, bindings: Mapping[str, int]) -> KnownDim:
        """Substitute integer values for symbols."""
        total: KnownDim = 0
        for mono, coeff in self.terms:
            term: KnownDim = coeff
            for atom in mono:
                if isinstance(atom, Symbol):
                    value = bindings.get(atom.name)
                    factor = value if value is not None else Expr({(atom,): 1})
                else:
                    num = atom.num.subs(bindings)
                    # den > 1, so the floor is never unknown.
                    factor = cast(KnownDim, floordiv(num, atom.den))
                term = term * factor
            total = total + term
        return total


def _mono_key(mono: Monomial) -> tuple[bool, int, list[tuple[int | str, ...]]]:
    # Higher-degree and symbolic terms first, the constant last.
    return (mono == (), -len(mono), [a.sort_key for a in mono])


def _term_key(term: Term) -> tuple[bool, int, list[tuple[int | str, ...]]]:
    return _mono_key(term[0])


_TEXT: dict[tuple[Term, ...], str] = {}   # terms -> rendered text
_SYMBOLS: dict[str, Symbol] = {}          # name -> its Symbol


def _mono_str(mono: Monomial) -> str:
    out: list[str] = []
    i = 0
    while i < len(mono):
        atom = mono[i]
        power = 1
        while i + power < len(mono) and mono[i + power] == atom:
            power += 1
        out.append(str(atom) if power == 1 else f"{atom}**{power}")
        i += power
    return "*".join(out)


# ---------------------------------------------------------------------------
# Public constructors and None-propagating helpers
# ---------------------------------------------------------------------------

def sym(name: str) -> Expr:
    """A symbolic dimension named ``name`` (e.g. ``N`` or ``batch_size``)."""
    return Expr._canonical((((Symbol(name),), 1),))


def is_int(d: object) -> TypeIs[int]:
    """Exactly an ``int`` (a known dim; ``bool`` is not one)."""
    return type(d) is int


@overload
def add(*dims: int) -> int: ...
@overload
def add(*dims: KnownDim) -> KnownDim: ...
@overload
def add(*dims: Dim) -> Dim: ...
def add(*dims: Dim) -> Dim:
    total: KnownDim = 0
    for d in dims:
        if d is None:
            return None
        total = total + d
    return total


@overload
def sub(a: int, b: int) -> int: ...
@overload
def sub(a: KnownDim, b: KnownDim) -> KnownDim: ...
@overload
def sub(a: Dim, b: Dim) -> Dim: ...
def sub(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    return a - b


@overload
def mul(*dims: int) -> int: ...
@overload
def mul(*dims: KnownDim) -> KnownDim: ...
@overload
def mul(*dims: Dim) -> Dim: ...
def mul(*dims: Dim) -> Dim:
    scale = 1
    symbolic: KnownDim | None = None
    for d in dims:
        if type(d) is int:
            scale *= d
        elif d is None:
            return None
        else:
            symbolic = d if symbolic is None else symbolic * d
    if symbolic is None:
        return scale
    return symbolic if scale == 1 else symbolic * scale


@overload
def prod(dims: Iterable[int]) -> int: ...
@overload
def prod(dims: Iterable[KnownDim]) -> KnownDim: ...
@overload
def prod(dims: Iterable[Dim]) -> Dim: ...
def prod(dims: Iterable[Dim]) -> Dim:
    return mul(*dims)


@overload
def sum_dims(dims: Iterable[int]) -> int: ...
@overload
def sum_dims(dims: Iterable[KnownDim]) -> KnownDim: ...
@overload
def sum_dims(dims: Iterable[Dim]) -> Dim: ...
def sum_dims(dims: Iterable[Dim]) -> Dim:
    """Sum of many dims in one pass (totals over thousands of nodes)."""
    const = 0
    exprs: list[Expr] = []
    for d in dims:
        if d is None:
            return None
        if isinstance(d, Expr):
            exprs.append(d)
        else:
            const += int(d)
    if not exprs:
        return const
    if len(exprs) == 1 and not const:
        return exprs[0]._normal()
    acc: dict[Monomial, int] = {}
    for expr in exprs:
        for mono, coeff in expr.terms:
            acc[mono] = acc.get(mono, 0) + coeff
    if const:
        acc[()] = acc.get((), 0) + const
    return Expr(acc)._normal()


def floordiv(a: Dim, b: Dim) -> Dim:
    """``floor(a / b)`` for dims; symbolic divisors only when the division is exact."""
    if a is None or b is None:
        return None
    if is_int(b):
        if b == 0:
            return None
        if is_int(a):
            return a // b
        if b < 0:
            return floordiv(-a, -b)
        return _poly_floordiv(a, b)
    return exact_div(a, b)


def ceildiv(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if is_int(a) and is_int(b):
        return -((-a) // b) if b else None
    if is_int(b) and b > 0:
        return floordiv(a + (b - 1), b)
    return exact_div(a, b)


def exact_div(a: Dim, b: Dim) -> Dim:
    """``a / b`` when it divides exactly (e.g. ``N*C*H / C``), else ``None``."""
    if a is None or b is None:
        return None
    if is_int(a) and is_int(b):
        return a // b if b and a % b == 0 else None
    pa, pb = Expr.lift(a), Expr.lift(b)
    if len(pb.terms) != 1:
        return 1 if pa == pb else None
    mono_b, coeff_b = pb.terms[0]
    acc: dict[Monomial, int] = {}
    for mono, coeff in pa.terms:
        rest = _mono_divide(mono, mono_b)
        if rest is None or coeff % coeff_b:
            return None
        acc[rest] = acc.get(rest, 0) + coeff // coeff_b
    return Expr(acc)._normal()


def _mono_divide(mono: Monomial, by: Monomial) -> Optional[Monomial]:
    remaining = list(mono)
    for atom in by:
        if atom not in remaining:
            return None
        remaining.remove(atom)
    return tuple(remaining)


def _poly_floordiv(p: Expr, k: int) -> KnownDim:
    if k == 1:
        return p._normal()
    exact: dict[Monomial, int] = {}
    remainder: dict[Monomial, int] = {}
    for mono, coeff in p.terms:
        q, r = divmod(coeff, k)
        if q:
            exact[mono] = q
        if r:
            remainder[mono] = r
    whole = Expr(exact)._normal()
    rest = Expr(remainder)
    const = rest.constant
    variable = [(m, c) for m, c in rest.terms if m != ()]
    if not variable:
        return whole  # 0 <= const < k, so floor(const / k) == 0
    if len(variable) == 1 and variable[0][1] == 1 and len(variable[0][0]) == 1:
        atom = variable[0][0][0]
        if isinstance(atom, FloorDiv):
            # floor((floor(e/a) + c)/k) == floor((e + a*c)/(a*k)) for integers a, k > 0.
            return add(whole, _poly_floordiv(Expr.lift(atom.num + atom.den * const), atom.den * k))
    return add(whole, Expr({(FloorDiv(rest, k),): 1}))


@overload
def max_dim(a: int, b: int) -> int: ...
@overload
def max_dim(a: Dim, b: Dim) -> Dim: ...
def max_dim(a: Dim, b: Dim) -> Dim:
    """Max of two dims when it is decidable (equal, or both ints)."""
    return _decided(max, a, b)


@overload
def min_dim(a: int, b: int) -> int: ...
@overload
def min_dim(a: Dim, b: Dim) -> Dim: ...
def min_dim(a: Dim, b: Dim) -> Dim:
    """Min of two dims when it is decidable (equal, or both ints)."""
    return _decided(min, a, b)


def _decided(pick: Callable[[int, int], int], a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if a == b:
        return a
    if is_int(a) and is_int(b):
        return pick(a, b)
    return None


@overload
def to_json(d: int) -> int: ...
@overload
def to_json(d: Expr) -> str: ...
@overload
def to_json(d: Dim) -> int | str | None: ...
def to_json(d: Dim) -> int | str | None:
    """int -> int, symbolic -> its text, unknown -> None."""
    if d is None or type(d) is int:
        return d
    return str(d)


def shape_to_json(shape: Optional[Iterable[Dim]]) -> Optional[list[int | str | None]]:
    return None if shape is None else [to_json(d) for d in shape]


def format_dim(d: Union[Dim, str], unknown: str = "?") -> str:
    """A dim, or a dim already in its JSON text (``str``), for people; ``unknown`` for None."""
    if d is None:
        return unknown
    return str(d)


def format_shape(shape: Optional[Iterable[Union[Dim, str]]], unknown: str = "?") -> str:
    if shape is None:
        return unknown
    return "(" + ", ".join(format_dim(d, unknown) for d in shape) + ")"


def subs_dim(d: Dim, bindings: Mapping[str, int]) -> Dim:
    if isinstance(d, Expr):
        return d.subs(bindings)
    return d


def format_count(d: Dim) -> str:
    """Thousands separators for people: 7,759,521 and 3,390,031,872*N."""
    if d is None:
        return "?"
    if is_int(d):
        return f"{d:,}"
    return d._render(thousands=True)
