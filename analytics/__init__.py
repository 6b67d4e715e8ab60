"""The read side: computations over rollups and attempts, judged and reported."""
