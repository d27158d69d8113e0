"""What every request passes through: negotiation, sessions, request ids, input
parsers, ETags, revalidation, compression, counters, and the outermost error guard."""
