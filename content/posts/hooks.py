"""Plug posts into the platform: serve the ``creators`` leaderboard (rebuilt from likes and
accepted answers), and let moderation queue and decide posts and comments."""

from app.hooks import register_personal_data
from content.moderation import service as moderation
from content.posts import creators
from content.posts import service as posts
from content.products import service as products
from games.leaderboards.registry import register_board

register_board(creators.BOARD, rebuild=creators.current_scores)
moderation.register_target(
    "post", moderation.Target(posts.post_snapshot, posts.publish_post, by_author=posts.recent_posts_snapshot)
)
moderation.register_target("comment", moderation.Target(posts.comment_snapshot, posts.publish_comment))

register_personal_data("content", export=posts.personal_data, erase=posts.erase_personal_data)


async def _post_context(db, rt, viewer, post_id):  # type: ignore[no-untyped-def]
    """A tap on a post's product card: the post must be one the viewer may see."""
    post = await posts.access_post(db, rt, viewer=viewer, post_id=post_id)
    return products.Context(product_id=posts.product_id_of(post), author_id=post.author_id)


products.register_context("post", _post_context)
products.on_conversion.append(creators.on_conversion)
