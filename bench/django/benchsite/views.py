"""Pages equivalent to rampart's reference app for the bench scenarios."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from .models import Comment

MAX_COMMENT_LEN = 10000


def home(request):
    return render(request, "home.html")


@login_required
def sessions(request):
    # Django keeps no index from a user to their sessions (rampart does), so the page shows the
    # current one: its key's tail, expiry, the client's address and user agent.
    row = {
        "id": request.session.session_key[-8:],
        "expiry": request.session.get_expiry_date(),
        "ip": request.META.get("REMOTE_ADDR", ""),
        "ua": request.META.get("HTTP_USER_AGENT", ""),
    }
    return render(request, "sessions.html", {"rows": [row]})


def comments(request):
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect("/accounts/login?next=/comments")
        body = request.POST.get("body", "").strip()
        if not body or len(body) > MAX_COMMENT_LEN:
            messages.error(request, "A comment must have between 1 and 10000 characters.")
            return redirect("/comments", permanent=False)
        Comment.objects.create(user=request.user, body=body)
        return redirect("/comments")
    if request.method != "GET":
        return HttpResponse(status=405)
    recent = Comment.objects.select_related("user").order_by("-created_at")[:50]
    return render(request, "comments.html", {"comments": recent})
