"""The routes rampart's reference app has for the bench scenarios, under the same paths."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("accounts/login", auth_views.LoginView.as_view(template_name="login.html")),
    path("accounts/sessions", views.sessions),
    path("comments", views.comments),
]
