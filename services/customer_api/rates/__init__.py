"""The sell rates you are charged: the rate cards your routes use."""
