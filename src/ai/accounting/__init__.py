"""What a call consumed and what it cost: token counting (`tokens`, `token_encoders` for
bulk encoding) and prices per model (`pricing`). Pure computation, no I/O at call time."""

from ai.accounting.pricing import (
    PRICING_FILE_ENV,
    ModelPrice,
    PricingTable,
    UnknownModelPriceWarning,
)
from ai.accounting.tokens import (
    EncodingName,
    ModelEncoding,
    TokenCount,
    count_message_tokens,
    count_tokens,
    encoding_for_model,
)

__all__ = [
    "PRICING_FILE_ENV",
    "EncodingName",
    "ModelEncoding",
    "ModelPrice",
    "PricingTable",
    "TokenCount",
    "UnknownModelPriceWarning",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
]
