"""One metadata filter language for every backend: Pinecone's.

    {"genre": "drama"}                                 implicit $eq
    {"year": {"$gte": 2000, "$lt": 2010}}              several operators on a field: AND
    {"genre": {"$in": ["comedy", "drama"]}, "year": {"$gte": 2020}}   top-level keys: AND
    {"$or": [{"genre": "drama"}, {"tags": {"$exists": true}}]}

`parse_filter` validates a dict into a small tree (`Condition`, `And`, `Or`) and raises
`FilterError` naming the bad part by path (`filter['year']['$gte']: expected a number,
got 'abc'`). Three evaluators share one meaning: `matches` (plain Python, the reference),
`MetadataColumns.mask` (numpy, for the memory store) and `compile_sql` (PostgreSQL jsonb,
for pgvector); Pinecone gets `filter_to_dict(...)` as is. Property tests hold them equal.

Semantics (docs/filters.md gives the reasons and Pinecone's wording):

- Operand types: `$eq`/`$ne` a string, number or boolean; `$gt`/`$gte`/`$lt`/`$lte` a
  number; `$in`/`$nin` a list of strings and numbers; `$exists` a boolean. A list as an
  implicit-equality value is an error (use `$in`).
- Numbers are float64, as in Pinecone: 1 == 1.0. Booleans are not numbers: True != 1.
  Types never coerce: "1" != 1, and strings have no order.
- A field is missing when its key is absent or its value is None. Every operator but
  `$exists` is false on a missing field, `$ne` and `$nin` included (Pinecone's behaviour):
  to keep records without the field, add `{"f": {"$exists": false}}` under an `$or`.
- A list-valued field (Pinecone: a list of strings) matches `$eq`/`$in` when any element
  equals; `$ne`/`$nin` when none does. Range operators never match a list.
- Other values (dicts, nested lists, NaN) are present but equal nothing.

Size: `FilterLimits` (default `DEFAULT_FILTER_LIMITS`: 10,000 `$in`/`$nin` values in all,
32 levels, 256 conditions) bounds what one filter may cost; `parse_filter(raw, limits)`
refuses more with a `FilterError` naming the limit and how to raise it.
"""

from __future__ import annotations

from ai.rag.filters_lang import (
    MAX_DEPTH,
    And,
    Condition,
    Filter,
    Op,
    Or,
    Scalar,
    filter_fields,
    filter_to_dict,
    matches,
    parse_filter,
)
from ai.rag.filters_limits import DEFAULT_FILTER_LIMITS, FilterLimits
from ai.rag.filters_numpy import MetadataColumns
from ai.rag.filters_sql import compile_sql

__all__ = [
    "DEFAULT_FILTER_LIMITS",
    "MAX_DEPTH",
    "And",
    "Condition",
    "Filter",
    "FilterLimits",
    "MetadataColumns",
    "Op",
    "Or",
    "Scalar",
    "compile_sql",
    "filter_fields",
    "filter_to_dict",
    "matches",
    "parse_filter",
]
