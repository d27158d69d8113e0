"""Development aids: the route and mount inventory, and the debug toolbar's panels."""
