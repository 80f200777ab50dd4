"""The admin page (`knowhere admin`): a small server-rendered web app for operators."""
