"""Routes: a customer's ingress routing — which calls, sold on which card, to which carriers."""
