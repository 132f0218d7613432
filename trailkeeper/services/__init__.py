"""Operations trailkeeper answers itself (STS, the CloudTrail API), registered in one table."""
