"""How one cell becomes a value, as SQL expressions over a text column.

Cleansing rules by field kind (`contract.fields.INVENTORY_FIELDS`): every value is trimmed
and its runs of whitespace (newlines included) collapsed to one space, and an empty value is
absent; enumerations are lower-cased (`' PRODUCTION'` and `'production'` are one
environment); integers and numbers are parsed, with a decimal comma and thousands
separators when the reading is unambiguous (`7,5`, `1.024,5`, `1 024`; never `1,024`). A
cell that does not parse, or holds an Excel error value (`#N/A`), has no value; `reason_sql`
says why.
"""

from __future__ import annotations

#: What Excel writes for a formula that failed; in a cell it means "no value".
EXCEL_ERRORS = (
    "#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
    "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#N/A!",
)  # fmt: skip
_EXCEL_ERROR_LIST = ", ".join(f"'{e}'" for e in EXCEL_ERRORS)


def clean_sql(column: str) -> str:
    """A cell trimmed, its whitespace runs collapsed to one space, NULL when empty.

    The regular expression replacement costs most of the cleansing; a match first tells
    the usual cell (no run of whitespace, no whitespace but spaces) that it has nothing to
    replace, at a third of the price.
    """
    return (
        f"NULLIF(btrim(CASE WHEN {column} !~ '\\s\\s|[^\\S ]' THEN {column}"
        f" ELSE regexp_replace({column}, '\\s+', ' ', 'g') END), '')"
    )


def excel_error_sql(column: str) -> str:
    """Whether a cleaned cell is an Excel error value; the first character rules out most."""
    return f"(left({column}, 1) = '#' AND {column} IN ({_EXCEL_ERROR_LIST}))"


_INTEGER = r"^[+-]?[0-9]{1,9}(\.0*)?$"
_NUMBER = r"^[+-]?([0-9]{1,30}(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
#: A space, a no-break space or a narrow no-break space between digit groups.
_SPACE = "[ \u00a0\u202f]"
#: `1,024` is 1024 in English and 1.024 in German: refused, never guessed.
_AMBIGUOUS = r"^[+-]?[1-9][0-9]{0,2},[0-9]{3}$"
#: Localised numbers, each with its normalisation to PostgreSQL's numeric syntax.
_LOCALISED = (
    # decimal comma, optional dot or space groups: 7,5  1.024,5  1 024,5
    (rf"^[+-]?([0-9]{{1,3}}([.]|{_SPACE})[0-9]{{3}}(([.]|{_SPACE})[0-9]{{3}})*|[0-9]+),[0-9]+$",
     f"replace(regexp_replace({{0}}, '([.]|{_SPACE})', '', 'g'), ',', '.')"),
    # decimal point, comma or space groups: 1,024.5  1 024  1,024,000
    (rf"^[+-]?[0-9]{{1,3}}(,|{_SPACE})[0-9]{{3}}((,|{_SPACE})[0-9]{{3}})*(\.[0-9]+)?$",
     f"regexp_replace({{0}}, '(,|{_SPACE})', '', 'g')"),
    # dot groups only, at least two: 1.024.000
    (r"^[+-]?[0-9]{1,3}(\.[0-9]{3}){2,}$", "replace({0}, '.', '')"),
)  # fmt: skip


def number_sql(column: str) -> str:
    """The numeric value of a text column: plain, or localised when unambiguous; else NULL."""
    cases = [f"WHEN {column} ~ '{_NUMBER}' THEN {column}::numeric"]
    cases.append(f"WHEN {column} ~ '{_AMBIGUOUS}' THEN NULL")
    cases += [
        f"WHEN {column} ~ '{pattern}' THEN ({normalise.format(column)})::numeric"
        for pattern, normalise in _LOCALISED
    ]
    return f"CASE {' '.join(cases)} END"


def value_sql(kind: str, column: str) -> str:
    """The typed value of one cleaned text column, NULL when it does not parse."""
    if kind == "enum":
        return f"lower({column})"
    if kind == "integer":
        number = number_sql(column)
        return (
            f"CASE WHEN {column} ~ '{_INTEGER}' THEN {column}::numeric::integer"
            f" WHEN {number} = trunc({number}) AND abs({number}) < 1e9"
            f" THEN ({number})::integer END"
        )
    if kind == "number":
        return number_sql(column)
    return column


def reason_sql(kind: str, column: str) -> str:
    if kind == "integer":
        return "'not an integer'"
    if kind == "number":
        return (
            f"CASE WHEN {column} ~ '{_AMBIGUOUS}' THEN 'ambiguous thousands separator'"
            " ELSE 'not a number' END"
        )
    return "'not a value'"


def identity_key_sql(key_columns: list[str]) -> tuple[str, dict[str, str]]:
    """The record's identity key (DESIGN 3a) from its raw cells, and the column binds.

    Each column's value trimmed and lower-cased, joined by the unit separator (U+001F) when
    there are several; NULL when any of them is empty. Migration 0010 computes the same
    expression for the assets it found.
    """
    binds = {f"key_{i}": column for i, column in enumerate(key_columns)}
    parts = [f"NULLIF(lower(btrim(r.raw_data ->> :{bind})), '')" for bind in binds]
    if not parts:
        return "NULL::text", binds
    if len(parts) == 1:
        return parts[0], binds
    present = " AND ".join(f"{part} IS NOT NULL" for part in parts)
    return f"CASE WHEN {present} THEN concat_ws(chr(31), {', '.join(parts)}) END", binds
