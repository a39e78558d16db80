"""ShopWorld's configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class IntentShares(BaseModel):
    """Share of query needs per intent; they must sum to 1."""

    model_config = ConfigDict(extra="forbid")

    visual: float = Field(0.3, ge=0, le=1)
    textual: float = Field(0.25, ge=0, le=1)
    mixed: float = Field(0.3, ge=0, le=1)
    broad: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> IntentShares:
        total = self.visual + self.textual + self.mixed + self.broad
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"intent shares must sum to 1, they sum to {total:.4f}")
        return self


class ShopWorldConfig(BaseModel):
    """How big ShopWorld is and how its users and logging policy behave."""

    model_config = ConfigDict(extra="forbid")

    n_items: int = Field(5000, ge=50, le=1_000_000)
    images: bool = True
    image_size: int = Field(64, ge=32, le=256)
    n_needs: int = Field(300, ge=10, le=20_000)
    n_query_variants: int = Field(2, ge=1, le=4)
    intents: IntentShares = IntentShares()
    image_only_query_share: float = Field(0.2, ge=0, le=0.6)
    n_pages: int = Field(50_000, ge=100, le=5_000_000)
    slate_size: int = Field(10, ge=1, le=50)
    max_pages: int = Field(3, ge=1, le=5)
    candidate_pool: int = Field(60, ge=2, le=500)
    logging_temperature: float = Field(0.1, gt=0)
    query_zipf_exponent: float = Field(1.0, ge=0, le=3)
    n_brands: int = Field(40, ge=4, le=500)

    @model_validator(mode="after")
    def _pool_covers_pages(self) -> ShopWorldConfig:
        shown = self.slate_size * self.max_pages
        if self.candidate_pool < shown:
            raise ValueError(
                f"candidate_pool={self.candidate_pool} is smaller than slate_size * max_pages"
                f" = {shown}; raise candidate_pool or lower max_pages"
            )
        return self
