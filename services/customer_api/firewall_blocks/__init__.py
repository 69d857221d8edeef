"""Firewall blocks on your own addresses: when the switch blocks one of your IP authentication
addresses or source ranges (the intrusion detection did, or the operator), your calls from it
are refused; here you see which block, why, since when and until when."""
