"""ShopWorld: the embedded default world, a seeded generator of a shop."""
