"""CoLA data: reading and validating the TSVs, tokenised batches, length-grouped sampling."""
