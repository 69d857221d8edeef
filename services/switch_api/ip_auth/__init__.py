"""IP authentication: the switches of customers and carriers, known by their addresses."""
