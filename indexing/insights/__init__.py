"""What the answer log tells the documentation team: the knowledge-gap report."""
