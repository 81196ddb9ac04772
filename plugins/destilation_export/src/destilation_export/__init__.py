"""`destiler export`: a job's accepted samples in the formats trainers load."""
