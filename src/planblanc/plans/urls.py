
app_name = "plans"

# Plan pages and part editors (plans/views.py)
urlpatterns: list = []

# Paper kit and offline bundle (plans/export_views.py)
urlpatterns += []
